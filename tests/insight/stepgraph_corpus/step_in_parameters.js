// The step object destructured in the default export's own parameter list.
const main = async ({ input, step: s }) => {
  await s.do("from the parameter", async () => input);
};

export default main;
