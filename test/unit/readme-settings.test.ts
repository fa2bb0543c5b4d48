// The README's configuration table is checked against the schema: one row per setting, with the
// derived environment variable name and the schema's default.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { environmentSettings } from '../../src/config/environment-overrides.js'
import { CONFIG_SCHEMA } from '../../src/config/load-config.js'

const readme = await readFile('README.md', 'utf8')
const tableStart = readme.indexOf('| setting | environment variable | default | meaning |')
const rows = readme.slice(tableStart).split('\n\n')[0]!.split('\n').slice(2).map((line) => line.split(' | ').map((cell) => cell.replace(/^\|\s*|\s*\|$/g, '')))

t.test('every setting has its row with its variable, and every row is a setting', async (t) => {
  t.ok(tableStart > 0, 'the table is there')
  const settings = environmentSettings(CONFIG_SCHEMA)
  t.equal(rows.length, settings.length, 'one row per setting')
  for (const setting of settings) {
    const path = setting.path.map((segment) => segment === '*' ? '<client_id>' : segment === '#' ? '<n>' : segment).join('.')
    const row = rows.find((cells) => cells[0] === `\`${path}\``)
    t.ok(row, `${path} has a row`)
    if (row === undefined) continue
    t.match(row[1], new RegExp(`^\`${setting.name.replace(/[<>]/g, '\\$&')}\`${setting.secret ? ' \\(secret\\)' : ''}$`), `${path}: ${setting.name}${setting.secret ? ', marked secret' : ''}`)
    if (setting.default !== undefined && !Array.isArray(setting.default)) t.match(row[2], `\`${String(setting.default)}\``, `${path}: default ${String(setting.default)}`)
  }
})
