// The problems buildConfig reports for a configuration that must be refused.
import { buildConfig, ConfigError } from '../../src/config/load-config.js'

export async function problemsOf (input: unknown, dir = '.'): Promise<readonly string[]> {
  try {
    await buildConfig(input, dir)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('expected a ConfigError')
}
