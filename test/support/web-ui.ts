/**
 * Looks at Temporal's Web UI the way a person does: Debian's Chromium, driven by playwright-core,
 * opens a page, waits until the given text shows (the UI renders summaries and details as
 * markdown inside same-origin iframes, so every frame's text counts), and saves a screenshot.
 * Without Chromium (`apt-get install -y chromium`), `chromiumSkipReason` gives tests their reason.
 */
import { accessSync, constants, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

const candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const path of env.CHROMIUM_PATH ? [env.CHROMIUM_PATH] : candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  return undefined;
}

/** For `test(name, { skip: chromiumSkipReason() }, …)`. */
export function chromiumSkipReason(): string | false {
  return findChromium() ? false : "chromium is not installed (apt-get install -y chromium, or set CHROMIUM_PATH)";
}

export interface PageView {
  /** The visible text of the page and of each of its frames. */
  text: string;
  screenshot?: string;
}

export class WebUi {
  private constructor(private readonly browser: Browser) {}

  static async launch(): Promise<WebUi> {
    const executablePath = findChromium();
    if (!executablePath) throw new Error(chromiumSkipReason() || "chromium is missing");
    // As root in a container Chromium needs --no-sandbox; /dev/shm may be small.
    return new WebUi(await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] }));
  }

  /** Opens `url` and waits until every wanted text shows in some frame; then screenshots it. */
  async view(url: string, wanted: readonly string[], options: { screenshot?: string; timeoutMs?: number; page?: (page: Page) => Promise<void> } = {}): Promise<PageView> {
    const page = await this.browser.newPage({ viewport: { width: 1440, height: 1100 } });
    try {
      await page.goto(url);
      await options.page?.(page);
      const deadline = Date.now() + (options.timeoutMs ?? 30_000);
      let text = "";
      for (;;) {
        text = await textOf(page);
        if (wanted.every((item) => text.includes(item))) break;
        if (Date.now() > deadline) {
          if (options.screenshot) await shoot(page, options.screenshot);
          throw new Error(`The page ${url} did not show ${wanted.filter((item) => !text.includes(item)).map((item) => JSON.stringify(item)).join(", ")}. It showed:\n${text.slice(0, 4000)}`);
        }
        await page.waitForTimeout(250);
      }
      if (options.screenshot) await shoot(page, options.screenshot);
      return { text, ...(options.screenshot ? { screenshot: options.screenshot } : {}) };
    } finally {
      await page.close();
    }
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}

async function textOf(page: Page): Promise<string> {
  const texts = await Promise.all(page.frames().map((frame) => frame.locator("body").innerText().catch(() => "")));
  return texts.join("\n");
}

async function shoot(page: Page, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage: true });
}
