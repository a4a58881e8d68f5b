// Each of Promise.all, any, allSettled and race; a group without a step is left out.
export default async function (ctx) {
  const [a, b] = await Promise.all([
    fastn.step.do("a", async () => 1),
    fastn.step.do("b", async () => 2),
  ]);
  await Promise.any([fastn.step.do("mirror 1", async () => 1), fastn.step.do("mirror 2", async () => 2)]);
  await Promise.allSettled([
    fastn.step.do("best effort", async () => 3),
    (async () => {
      await fastn.step.sleep("later", "1 minute");
      await fastn.step.do("after", async () => 4);
    })(),
  ]);
  const winner = await Promise.race([
    fastn.step.waitForEvent("reply", { type: "reply", timeout: "1 hour" }),
    fastn.step.sleep("give up", "1 hour"),
  ]);
  const plain = await Promise.all([fetchA(), fetchB()]);
  return { a, b, winner, plain };
}
