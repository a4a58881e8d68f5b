// switch with cases (one falling through) and a default.
export default async function (ctx) {
  switch (ctx.input.action) {
    case "create":
    case "upsert":
      await fastn.step.do("write", async () => 1);
      break;
    case 'delete': {
      await fastn.step.do("remove", async () => 2);
      break;
    }
    case "noop":
      break;
    default:
      await fastn.step.sleep("unknown action backoff", "1 minute");
  }
  switch (ctx.input.other) {
    case 1:
      console.log("one");
  }
}
