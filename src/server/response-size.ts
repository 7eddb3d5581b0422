/**
 * Whether `value`, serialized as JSON, would take more than `limitBytes`,
 * without serializing it: a walk that adds up what each value would take
 * and stops as soon as the limit is passed, so a huge result costs no more
 * than `limitBytes` worth of walking. Strings count their UTF-16 length plus
 * quotes (escapes and multi-byte characters are not counted: an estimate
 * slightly under the real size).
 */
export function exceedsJsonSize(value: unknown, limitBytes: number): boolean {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (current === null || current === undefined) total += 4;
    else if (typeof current === 'string') total += current.length + 2;
    else if (typeof current === 'number' || typeof current === 'bigint') total += 8;
    else if (typeof current === 'boolean') total += 5;
    else if (Array.isArray(current)) {
      total += 2 + current.length;
      for (const item of current) stack.push(item);
    } else if (typeof current === 'object') {
      total += 2;
      for (const [key, item] of Object.entries(current)) {
        total += key.length + 4;
        stack.push(item);
      }
    }
    if (total > limitBytes) return true;
  }
  return false;
}
