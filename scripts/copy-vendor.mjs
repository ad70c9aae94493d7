// Copy the pinned front-end libraries from node_modules to static/vendor,
// where Django serves them ({% static %}); hospital networks block CDNs.
import { copyFileSync, mkdirSync } from "node:fs";

const files = {
  "node_modules/htmx.org/dist/htmx.min.js": "static/vendor/htmx.min.js",
  "node_modules/@picocss/pico/css/pico.min.css": "static/vendor/pico.min.css",
};
mkdirSync("static/vendor", { recursive: true });
for (const [from, to] of Object.entries(files)) {
  copyFileSync(from, to);
  console.log(`${from} -> ${to}`);
}
