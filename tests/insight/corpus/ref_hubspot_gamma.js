// Discovery deal -> Gamma deck: the reference's connector example as one workflow.
const fastn = new Fastn({
  connectors: {
    hubspotCrm: { orgId: "managed" },
    gamma: { orgId: "custom" }
  }
});

export default async function(ctx) {
  const events = ctx.input;
  const { propertyName, propertyValue, objectId } = events[0];
  const profile = await fastn.connector.gmail.getProfile({ emailAddress: "me" });
  const deal    = await fastn.connector.hubspotCrm.getDeal({ dealId: objectId });
  const result  = await fastn.connector.gamma.createGeneration({
    inputText: deal.properties.dealname,
    format: "presentation",
  });
  return { profile: profile.emailAddress, generationId: result.generationId };
}
