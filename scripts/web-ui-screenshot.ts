/**
 * Opens a page in headless Chromium, waits for some text, saves a screenshot and prints what the
 * page shows. For checking Temporal's Web UI by hand:
 *
 *   node --import tsx scripts/web-ui-screenshot.ts <url> <out.png> [text to wait for...]
 */
import { WebUi } from "../test/support/web-ui.js";

const [url, out, ...wanted] = process.argv.slice(2);
if (!url || !out) {
  console.error("usage: node --import tsx scripts/web-ui-screenshot.ts <url> <out.png> [text to wait for...]");
  process.exit(64);
}
const ui = await WebUi.launch();
try {
  const view = await ui.view(url, wanted, { screenshot: out });
  console.log(view.text);
  console.error(`screenshot: ${out}`);
} finally {
  await ui.close();
}
