/** Checks a tool call's arguments against the tool's input schema before it reaches the server. */
import type { Tool } from "@modelcontextprotocol/client";
import { Ajv, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import { errorText } from "./connection-errors.js";
import { describeSchemaErrors } from "./tool-results.js";

/** Compiled validators by tool name; null when the schema cannot be compiled. */
export type ToolValidators = Map<string, ValidateFunction | null>;

/** Validates tool arguments, sharing one ajv instance per JSON Schema dialect. */
export class ToolArgumentValidator {
  private readonly ajv = new Map<string, Ajv | Ajv2019 | Ajv2020>();
  private readonly logger: { warn: (obj: Record<string, unknown>, msg?: string) => void };

  constructor(logger: { warn: (obj: Record<string, unknown>, msg?: string) => void }) {
    this.logger = logger;
  }

  /**
   * The arguments to send, or an error text when they do not fit the tool's input schema. A null
   * for an optional argument whose schema has no null (models write them for "not given") is
   * taken as leaving it out, when that makes the arguments fit.
   */
  check(validators: ToolValidators, server: string, tool: Tool, args: Record<string, unknown>): { args: Record<string, unknown> } | { error: string } {
    let validate = validators.get(tool.name);
    if (validate === undefined) {
      validate = this.compile(server, tool);
      validators.set(tool.name, validate);
    }
    if (!validate || validate(args)) return { args };
    const error = `Invalid arguments for ${tool.name}: ${describeSchemaErrors(validate.errors ?? [])}`;
    const required = new Set(Array.isArray(tool.inputSchema.required) ? tool.inputSchema.required : []);
    const given = Object.fromEntries(Object.entries(args).filter(([name, value]) => value !== null || required.has(name)));
    if (Object.keys(given).length === Object.keys(args).length || !validate(given)) return { error };
    return { args: given };
  }

  /** Null when the schema cannot be compiled; the server still validates, so we let the call through. */
  private compile(server: string, tool: Tool): ValidateFunction | null {
    const { $schema, ...schema } = tool.inputSchema as Record<string, unknown>;
    const dialect = typeof $schema === "string" && /2020-12/.test($schema) ? "2020-12"
      : typeof $schema === "string" && /2019-09/.test($schema) ? "2019-09"
      : "draft-07";
    let ajv = this.ajv.get(dialect);
    if (!ajv) {
      const options = {
        allErrors: true,
        strict: false,
        // Formats are left to the server: we would need ajv-formats, and it checks them anyway.
        validateFormats: false,
        // Tools may reuse `$id`s; adding them to the shared instance would make compile throw.
        addUsedSchema: false,
        logger: false as const,
      };
      ajv = dialect === "2020-12" ? new Ajv2020(options) : dialect === "2019-09" ? new Ajv2019(options) : new Ajv(options);
      this.ajv.set(dialect, ajv);
    }
    try {
      return ajv.compile(schema);
    } catch (error) {
      this.logger.warn(
        { mcpServer: server, tool: tool.name, err: errorText(error) },
        "Cannot compile the tool's input schema; arguments go to the server unchecked",
      );
      return null;
    }
  }
}
