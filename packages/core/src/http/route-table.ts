import type { HttpMethod, Operation } from './operation';

interface CompiledRoute {
  operation: Operation;
  pattern: RegExp;
  params: string[];
}

export type RouteMatch =
  | { kind: 'found'; operation: Operation; params: Record<string, string> }
  | { kind: 'method_not_allowed'; allowed: HttpMethod[] }
  | { kind: 'none' };

/** Path templates like `/keys/:provider` compiled once; segments never match `/`. */
export class RouteTable {
  private readonly routes: CompiledRoute[] = [];
  private readonly names = new Set<string>();

  add(operation: Operation): void {
    if (this.names.has(operation.name)) throw new Error(`duplicate operation name ${operation.name}`);
    const clash = this.routes.find((r) => r.operation.http.method === operation.http.method && r.operation.http.path === operation.http.path);
    if (clash) throw new Error(`${operation.name} and ${clash.operation.name} share ${operation.http.method} ${operation.http.path}`);
    this.names.add(operation.name);
    const params: string[] = [];
    const source = operation.http.path
      .split('/')
      .map((segment) => {
        if (segment.startsWith(':')) {
          params.push(segment.slice(1));
          return '([^/]+)';
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ operation, pattern: new RegExp(`^${source}/?$`), params });
  }

  list(): Operation[] {
    return this.routes.map((r) => r.operation);
  }

  match(method: string, path: string): RouteMatch {
    const allowed: HttpMethod[] = [];
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      if (route.operation.http.method !== method) {
        allowed.push(route.operation.http.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.params.forEach((name, i) => {
        params[name] = safeDecode(m[i + 1]!);
      });
      return { kind: 'found', operation: route.operation, params };
    }
    return allowed.length ? { kind: 'method_not_allowed', allowed } : { kind: 'none' };
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
