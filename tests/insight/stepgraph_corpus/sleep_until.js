// sleepUntil with a Date, an ISO string, an epoch number and a value from the input.
export default async function (ctx) {
  await fastn.step.sleepUntil("new year", new Date("2026-01-01T00:00:00Z"));
  await fastn.step.sleepUntil("iso", "2026-03-01T09:00:00Z");
  await fastn.step.sleepUntil("epoch", 1767225600000);
  const when = ctx.input.remindAt;
  await fastn.step.sleepUntil(
    "reminder",
    when,
  );
}
