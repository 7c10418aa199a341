/** duragent's own package: its manifest and where it is installed. Read once, from package.json. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface Manifest {
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** The package's root folder: the repository, or `node_modules/duragent` in a user's project. */
export const packageRoot = fileURLToPath(new URL("..", import.meta.url));

export const packageManifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as Manifest;

export const duragentVersion = packageManifest.version;
