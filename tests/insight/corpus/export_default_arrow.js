const render = (name) => `Hello, ${name}`;

export default async (ctx) => ({
  message: render(ctx.input.name),
  token: await fastn.secrets.get("GREETER_TOKEN"),
});
