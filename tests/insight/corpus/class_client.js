// A small client class: its methods are graphed where they are first called.
class Crm {
  constructor(token) {
    this.token = token;
  }

  async findCompany(domain) {
    const cached = await fastn.state.get(`company:${domain}`);
    if (cached) return cached;
    const company = await fastn.connector.clearbit.findCompany({ domain });
    await this.remember(domain, company);
    return company;
  }

  async remember(domain, company) {
    await fastn.state.set(`company:${domain}`, company, { ttl: 86400 });
  }

  static async notify(text) {
    await fastn.connector.slack.postMessage({ channel: "#crm", text });
  }
}

export default async function (ctx) {
  const token = await fastn.secrets.get("CRM_TOKEN");
  const crm = new Crm(token);
  const company = await crm.findCompany(ctx.input.domain);
  await Crm.notify(`Found ${company.name}`);
  return company;
}
