// Copy the pinned front-end libraries from node_modules to static/vendor,
// where Django serves them ({% static %}); hospital networks block CDNs.
// dwv (the image viewer) is an ES module that imports konva, jszip and
// magic-wand-tool by bare name: esbuild bundles them into one module, and its
// decoder workers (RLE, JPEG baseline/lossless, JPEG 2000) are copied beside
// it, in assets/workers/.
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { build } from "esbuild";

const files = {
  "node_modules/htmx.org/dist/htmx.min.js": "static/vendor/htmx.min.js",
  "node_modules/@picocss/pico/css/pico.min.css": "static/vendor/pico.min.css",
};
mkdirSync("static/vendor", { recursive: true });
for (const [from, to] of Object.entries(files)) {
  copyFileSync(from, to);
  console.log(`${from} -> ${to}`);
}

// dwv's build resolves its worker URLs against the page (document.baseURI),
// so /exams/1/ would ask for /exams/1/assets/workers/…; resolve them against
// the module's own URL instead. Fails the build if a new dwv changes the line.
const DWV_BASE = '"undefined"!=typeof document&&document.baseURI||self.location.href';
const workersBesideModule = {
  name: "dwv-workers-beside-module",
  setup(b) {
    b.onLoad({ filter: /dwv[\\/]dist[\\/]dwv\.min\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!source.includes(DWV_BASE)) throw new Error("dwv: worker base URL line not found; check the patch");
      return { contents: source.replace(DWV_BASE, "import.meta.url"), loader: "js" };
    });
  },
};

rmSync("static/vendor/dwv", { recursive: true, force: true });
await build({
  plugins: [workersBesideModule],
  entryPoints: ["node_modules/dwv/dist/dwv.min.js"],
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2022",
  outfile: "static/vendor/dwv/dwv.js",
  logLevel: "warning",
});
console.log("node_modules/dwv (+ konva, jszip, magic-wand-tool) -> static/vendor/dwv/dwv.js");
// With their source maps: collectstatic's manifest storage follows each
// worker's sourceMappingURL comment and fails on a missing file.
cpSync("node_modules/dwv/dist/assets/workers", "static/vendor/dwv/assets/workers", { recursive: true });
console.log("node_modules/dwv/dist/assets/workers -> static/vendor/dwv/assets/workers");
