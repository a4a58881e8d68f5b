// Modern syntax the parser must read: classes, generators, destructuring, optional
// chaining, template literals, arrow functions, async iteration, spread, labels.
class Paginator {
  constructor(slug) {
    this.slug = slug;
  }

  async *pages(start = 0) {
    let cursor = start;
    while (cursor !== null) {
      const page = await fastn.connector.notion.queryDatabase({ cursor });
      yield page.results;
      cursor = page.next_cursor ?? null;
    }
  }

  async total() {
    return this.count?.() ?? 0;
  }
}

function* range(n) {
  for (let i = 0; i < n; i++) yield i;
}

export default async function ({ input: { databaseId, tags = [] } = {}, headers }) {
  const paginator = new Paginator("notion");
  const [first, ...rest] = [...range(3)];
  const label = `${databaseId}-${first}-${rest.length}`;
  const pick = ({ id, properties: { Name } }) => ({ id, name: Name?.title?.[0]?.plain_text });
  const names = [];
  outer: for await (const batch of paginator.pages()) {
    for (const row of batch) {
      if (tags.length && !tags.includes(row.tag)) continue outer;
      names.push(pick(row));
    }
  }
  const total = await paginator.total();
  return { label, names, total, agent: headers?.["user-agent"] };
}
