'use strict';
// Reads an RSS or Atom feed on stdin, parses it with rss-parser and prints
// {title, items: [{title, link, guid, id, isoDate, categories}]} as JSON on stdout.
// rss-parser does not map Atom <category term="..."/>, so the raw elements are kept
// through a custom field and their terms read here.
const Parser = require('rss-parser');

function categoryName(category) {
  if (typeof category === 'string') return category;
  if (category && typeof category._ === 'string') return category._;
  if (category && category.$ && typeof category.$.term === 'string') return category.$.term;
  return '';
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const xml = Buffer.concat(chunks).toString('utf8');
  const parser = new Parser({
    customFields: { item: [['category', 'rawCategories', { keepArray: true }]] },
  });
  const feed = await parser.parseString(xml);
  const items = (feed.items || []).map((item) => ({
    title: item.title ?? null,
    link: item.link ?? null,
    guid: item.guid ?? null,
    id: item.id ?? null,
    isoDate: item.isoDate ?? null,
    categories: (item.categories || item.rawCategories || []).map(categoryName),
  }));
  process.stdout.write(JSON.stringify({ title: feed.title ?? null, items }) + '\n');
}

main().catch((error) => {
  process.stderr.write(`parse-feed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
