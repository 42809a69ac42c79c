/**
 * `derive`, worked out once per key object and kept as long as the key lives: for what each of a
 * load run's thousands of sessions would otherwise work out again from the same profile.
 */
export function cachedPer<K extends object, V>(derive: (key: K) => V): (key: K) => V {
  const cache = new WeakMap<K, V>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = derive(key);
      cache.set(key, value);
    }
    return value;
  };
}
