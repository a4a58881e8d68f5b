// Every way to write a duration: milliseconds, a number with separators, words, a const
// bound to a string, and an expression (kept as source text).
const COOL_DOWN = "30 minutes";
const RETRY = { retries: { limit: 3, delay: "10 seconds", backoff: "linear" }, timeout: "1 hour" };

export default async function (ctx) {
  await fastn.step.sleep("ms", 500);
  await fastn.step.sleep("separators", 1_000);
  await fastn.step.sleep("exponent", 1e3);
  await fastn.step.sleep("seconds", "10 seconds");
  await fastn.step.sleep("minutes", "5 minutes");
  await fastn.step.sleep("day", "1 day");
  await fastn.step.sleep("const", COOL_DOWN);
  await fastn.step.sleep("computed", ctx.input.minutes * 60 * 1000);
  await fastn.step.sleep("template", `${ctx.input.days} days`);
  await fastn.step.do("named config", RETRY, async () => 1);
  await fastn.step.do("delay words", { retries: { limit: 1, delay: "5 minutes" } }, async () => 2);
}
