// Echo with validation: answers with a greeting, or a clear error for bad input.
// Try it in the Test tab with {"name": "Ada", "tags": ["math"]}.
export default async function (ctx) {
  const { input } = ctx;
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new Error("ctx.input must be a JSON object, like {\"name\": \"Ada\"}");
  }
  const name = typeof input.name === "string" ? input.name.trim() : "";
  if (!name) {
    throw new Error("input.name is required (a non-empty string)");
  }
  if (input.tags !== undefined && !Array.isArray(input.tags)) {
    throw new Error("input.tags must be an array of strings when given");
  }
  console.log(`Greeting ${name}`);
  return {
    greeting: `Hello, ${name}!`,
    tags: input.tags ?? [],
    receivedAt: new Date().toISOString(),
    attempt: ctx.execution?.attempt ?? 1,
  };
}
