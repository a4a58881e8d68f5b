// The Cloudflare style: the step object is the default export's second parameter.
export default async function run(event, step) {
  const files = await step.do("my first step", async () => {
    return { inputParams: event, files: ["doc_7392_rev3.pdf", "report_x29_final.pdf"] };
  });
  await step.sleep("wait on something", "1 minute");
  await step.do(
    "make a call to write that could maybe, just might, fail",
    {
      retries: { limit: 5, delay: "5 second", backoff: "exponential" },
      timeout: "15 minutes",
    },
    async () => {
      if (Math.random() > 0.5) throw new Error("API call to $STORAGE_SYSTEM failed");
    },
  );
  return files;
}
