// A lookup with deduplication: processes each lead once, remembering the emails it has
// seen in fastn.state (ORG scope: shared by every run of this workflow) for 30 days.
// Run it twice in the Test tab with {"email": "ada@example.com"}.
const THIRTY_DAYS = 30 * 24 * 3600;

export default async function (ctx) {
  const email = String(ctx.input?.email ?? "").trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) {
    throw new Error("input.email must be an email address");
  }

  const key = `lead:${email}`;
  const seen = await fastn.state.get(key);
  if (seen) {
    console.info(`${email} was already processed at ${seen.firstSeenAt}`);
    return { email, skipped: true, reason: "already_processed", firstSeenAt: seen.firstSeenAt };
  }

  const record = { firstSeenAt: new Date().toISOString(), source: ctx.trigger?.type ?? "manual" };
  await fastn.state.set(key, record, { ttl: THIRTY_DAYS });
  console.log(`New lead ${email}`);
  return { email, skipped: false, ...record };
}
