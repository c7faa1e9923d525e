// Launches Debian's Chromium (never a downloaded browser) at the phone size the app
// is designed for: 360×640, touch, device scale 2.
import { chromium } from 'playwright-core';

export const VIEWPORT = { width: 360, height: 640 };

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', '--lang=zh-CN'],
  });
}

export async function phone(browser, opts = {}) {
  const context = await browser.newContext({
    viewport: VIEWPORT,
    deviceScaleFactor: 2,
    hasTouch: true,
    isMobile: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    ...opts,
  });
  return context;
}
