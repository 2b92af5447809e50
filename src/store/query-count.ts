/**
 * Counts the D1 queries made through a database binding, for jobs that must stay under the
 * per-invocation query limit (50 on the free plan, 1000 on paid). Each executed statement
 * (run / first / all / raw) counts one, each batch() counts one (D1 runs it as one request), and so
 * does exec(). Statements prepared through the wrapper are unwrapped before they reach batch().
 */
export interface QueryCounter {
  queries: number;
}

const EXECUTE = new Set<PropertyKey>(["run", "first", "all", "raw"]);

export function countingDb<T extends D1Database | D1DatabaseSession>(db: T, counter: QueryCounter): T {
  const real = new WeakMap<object, D1PreparedStatement>();
  const statement = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => statement(target.bind(...values));
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (!EXECUTE.has(prop)) return value.bind(target);
        return (...args: unknown[]) => {
          counter.queries++;
          return value.apply(target, args);
        };
      },
    });
    real.set(proxy, stmt);
    return proxy;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") return (query: string) => statement(target.prepare(query));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          counter.queries++;
          return target.batch(statements.map((s) => real.get(s) ?? s));
        };
      }
      if (prop === "exec" && "exec" in target) {
        return (query: string) => {
          counter.queries++;
          return target.exec(query);
        };
      }
      if (prop === "withSession" && "withSession" in target) {
        return (...args: Parameters<D1Database["withSession"]>) => countingDb(target.withSession(...args), counter);
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
