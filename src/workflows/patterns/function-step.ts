/**
 * Plain functions as LLMs, so a deterministic step (formatting, splitting, a merge) can sit
 * in any pattern. The function runs in workflow code: it must be deterministic and effect-free.
 */
import type { Message } from "../../common/messages.js";
import { inputText, PatternBase } from "./pattern-base.js";

export type PatternFunction = (input: string) => string | Promise<string>;

export class FunctionStep extends PatternBase {
  constructor(
    readonly name: string,
    private readonly fn: PatternFunction,
  ) {
    super();
  }

  protected async respond(input: string | Message[]): Promise<string> {
    return this.fn(inputText(input));
  }
}

// Filled at module load, so the worker's workflow bundle and the memory engine see the same names.
const registeredFunctions = new Map<string, PatternFunction>();

/**
 * Registers a function that declarative pattern specs may name (`{ function: "<name>" }`).
 * Call it at the top level of a module listed under `modules:` so workers register it too.
 */
export function registerPatternFunction(name: string, fn: PatternFunction): void {
  registeredFunctions.set(name, fn);
}

export function findPatternFunction(name: string): PatternFunction | undefined {
  return registeredFunctions.get(name);
}

export function registeredPatternFunctionNames(): string[] {
  return [...registeredFunctions.keys()];
}
