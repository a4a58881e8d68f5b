// waitForEvent with a type and a timeout, with a type only, and without options.
export default async function (ctx) {
  const approval = await fastn.step.waitForEvent("manager approval", {
    type: "approval",
    timeout: "2 days",
  });
  const receipt = await fastn.step.waitForEvent("receipt", { type: "payment.receipt" });
  const anything = await fastn.step.waitForEvent("anything");
  const timed = await fastn.step.waitForEvent("ms timeout", { timeout: 60000, "type": "ping" });
  return { approval, receipt, anything, timed };
}
