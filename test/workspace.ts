import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

export interface WorkspacePackage {
  dir: string;
  name: string;
  private: boolean;
  hasSource: boolean;
}

/** Every package under packages/ and examples/ with a package.json. */
export function workspacePackages(): WorkspacePackage[] {
  const out: WorkspacePackage[] = [];
  for (const group of ['packages', 'examples']) {
    for (const entry of readdirSync(`${root}${group}`)) {
      const dir = `${root}${group}/${entry}`;
      if (!existsSync(`${dir}/package.json`)) continue;
      const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
      out.push({ dir, name: pkg.name, private: pkg.private === true, hasSource: existsSync(`${dir}/src/index.ts`) || existsSync(`${dir}/src/server.ts`) });
    }
  }
  return out;
}
