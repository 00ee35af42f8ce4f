// diff.js: a line diff of two texts (longest common subsequence), for comparing
// workflow versions. Sources are small; the table is at most a few million cells.

/** lineDiff returns [{op: ' ' | '-' | '+', text}] turning a into b. */
export function lineDiff(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  const lcs = table(x, y);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) { out.push({ op: ' ', text: x[i] }); i++; j++; }
    else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push({ op: '-', text: x[i++] });
    else out.push({ op: '+', text: y[j++] });
  }
  while (i < x.length) out.push({ op: '-', text: x[i++] });
  while (j < y.length) out.push({ op: '+', text: y[j++] });
  return out;
}

// table[i][j] is the length of the longest common subsequence of x[i:] and y[j:].
function table(x, y) {
  const t = Array.from({ length: x.length + 1 }, () => new Uint32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      t[i][j] = x[i] === y[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
    }
  }
  return t;
}
