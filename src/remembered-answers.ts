/**
 * Answers the request path works out from one string that repeats on nearly every request (the
 * Host, a Content-Type, a client's redirect_uri, its response_type): remembered for the last few
 * values instead of worked out again each time. Only for functions of the string alone. Bounded
 * twice, so a peer sending ever new values costs what it cost without this, never memory: the
 * memory is cleared when full, and values longer than `maxLength` are never kept. A computation
 * that throws remembers nothing.
 */
export function rememberedAnswers<T> (compute: (value: string) => T, bounds: { readonly entries: number, readonly maxLength: number }): (value: string) => T {
  const answers = new Map<string, T>()
  return (value) => {
    if (value.length > bounds.maxLength) return compute(value)
    if (answers.has(value)) return answers.get(value)!
    const answer = compute(value)
    if (answers.size >= bounds.entries) answers.clear()
    answers.set(value, answer)
    return answer
  }
}
