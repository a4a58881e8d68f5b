// The second parameter under another name, with an arrow function as the default export.
export default async (event, s) => {
  await s.do("first", async () => event.payload);
  await s.sleep("pause", 2000);
};
