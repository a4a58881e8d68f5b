// A call through the HTTP connector: looks a GitHub repository up by its full name.
// Try it with {"repo": "django/django"}. The connector refuses private addresses.
export default async function (ctx) {
  const repo = String(ctx.input?.repo ?? "django/django");
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw new Error('input.repo must look like "owner/name"');
  }

  const response = await fastn.connector.http.request({
    method: "GET",
    url: `https://api.github.com/repos/${repo}`,
    headers: { Accept: "application/vnd.github+json", "User-Agent": "fastn-console-demo" },
    timeout: 10,
  });

  if (response.status === 404) {
    return { found: false, repo };
  }
  if (response.status !== 200) {
    throw new Error(`GitHub answered ${response.status}`);
  }
  const { full_name, description, stargazers_count, default_branch, html_url } = response.body;
  return {
    found: true,
    repo: full_name,
    description,
    stars: stargazers_count,
    defaultBranch: default_branch,
    url: html_url,
  };
}
