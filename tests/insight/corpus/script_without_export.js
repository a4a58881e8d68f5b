// No default export: the runtime refuses to run it, the graph shows trigger -> done.
const x = 1;
console.log(x);
