export default async function (ctx) {
  if (!ctx.input) throw new TypeError("input required");
  const { kind } = ctx.input;
  if (kind === "noop") return;
  if (kind === "retry") {
    throw fastn.retryable("try again later");
  }
  const x = await fastn.connector.api.getThing({ kind });
  if (!x) {
    return null;
  } else {
    throw new Error(`unexpected ${kind}`);
  }
  console.log("unreachable");
}
