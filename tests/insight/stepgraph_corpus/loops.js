// Steps in for, for-of, for-in, while and do-while loops; a loop without a step is left
// out; a break or return that leaves a loop is a node, a break that ends a switch case is not.
export default async function (ctx) {
  for (let i = 0; i < 3; i++) {
    await fastn.step.do("attempt", async () => i);
  }
  for (const id of await fastn.step.do("list ids", async () => [1, 2])) {
    await fastn.step.do("each id", async () => id);
  }
  for (const key in ctx.input) {
    console.log(key);
  }
  for (const key in ctx.input) {
    await fastn.step.sleep("per key", "1 second");
  }
  let page = 0;
  while (page < 10) {
    const rows = await fastn.step.do("fetch page", async () => []);
    if (rows.length === 0) break;
    switch (rows[0].kind) {
      case "stop":
        return rows;
      default:
        break;
    }
    page++;
  }
  do {
    await fastn.step.sleep("poll", 5000);
  } while (!(await fastn.step.do("ready?", async () => true)));
}
