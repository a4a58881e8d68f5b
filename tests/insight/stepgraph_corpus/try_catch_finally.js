// try / catch / finally around steps; a try without a step is left out.
export default async function (ctx) {
  let data;
  try {
    data = JSON.parse(ctx.input.raw);
  } catch {
    data = {};
  }
  try {
    await fastn.step.do("risky", { retries: { limit: 0 } }, async () => data);
  } catch (err) {
    await fastn.step.do("compensate", async () => err.message);
  } finally {
    await fastn.step.do("cleanup", async () => null);
  }
  try {
    await fastn.step.sleep("only try", 10);
  } catch (e) {
    console.error(e);
  }
}
