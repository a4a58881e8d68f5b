// if / else if / else around steps; an if without a step is left out; a test that takes
// a step runs before the if.
export default async function (ctx) {
  const tier = ctx.input.tier;
  if (tier === "gold") {
    await fastn.step.do("gold perks", async () => 1);
  } else if (tier === "silver") {
    await fastn.step.do("silver perks", async () => 2);
  } else if (tier === "bronze") {
    console.log("no perks");
  } else {
    await fastn.step.sleep("cool off", "1 day");
  }
  if (!tier) {
    console.log("no tier");
  }
  if (await fastn.step.do("is fraud", async () => false)) await fastn.step.do("block", async () => 0);
}
