// From the reference's ctx.input section: a webhook delivers an array of property changes.
export default async function(ctx) {
  const { input, headers } = ctx;
  const events = ctx.input;
  const { propertyName, propertyValue, objectId } = events[0];
  const contentType = ctx.headers['content-type'];
  return { propertyName, propertyValue, objectId, contentType };
}
