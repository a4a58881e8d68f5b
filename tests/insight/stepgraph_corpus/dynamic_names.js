// Names that are not literals: a template with the loop variable, a const, a concatenation.
const PREFIX = "sync";

export default async function (ctx) {
  for (const user of ctx.input.users) {
    await fastn.step.do(`sync user ${user.id}`, async () => user);
    await fastn.step.do("notify " + user.email, async () => user.email);
  }
  await fastn.step.do(PREFIX, async () => 0);
  await fastn.step.do(`fixed template`, async () => 0);
}
