/**
 * A provider answered by a script in this process, not by a vendor: it stands in for a model
 * whose API key is missing when the config says `llm.withoutApiKey: scripted`, so a new project
 * runs offline. Its turns are what the scripted model server would send, as the neutral response.
 */
import type { LlmRequest, LlmResponse } from "../../common/llm.js";
import type { ToolCall } from "../../common/messages.js";
import type { ScriptedCall, ScriptedTurn } from "../../testing/scripted-model-server.js";
import type { LlmProvider } from "./provider.js";

export type Script = (call: ScriptedCall) => ScriptedTurn;

export class ScriptedProvider implements LlmProvider {
  private calls = 0;

  constructor(
    readonly name: string,
    private readonly script: Script,
  ) {}

  async generate(request: LlmRequest, model: string): Promise<LlmResponse> {
    const index = this.calls++;
    const turn = this.script({
      index,
      wire: "openai",
      model,
      ...(request.system !== undefined ? { system: request.system } : {}),
      messages: request.messages,
      tools: (request.tools ?? []).map((tool) => tool.name),
      responseFormat: request.responseFormat !== undefined,
      ...(request.responseFormat ? { responseSchema: request.responseFormat.schema } : {}),
      raw: request,
    });
    const toolCalls: ToolCall[] = (turn.toolCalls ?? []).map((call, position) => ({
      id: call.id ?? `call_${index}_${position}`,
      name: call.name,
      arguments: typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments),
    }));
    const text = turn.text ?? "";
    return {
      message: { role: "assistant", content: text, ...(toolCalls.length > 0 ? { toolCalls } : {}) },
      stopReason: turn.stopReason ?? (toolCalls.length > 0 ? "tool_calls" : "end"),
      // The script's own figures, or a rough estimate (characters / 4), as the scripted server gives.
      usage: turn.usage ?? { inputTokens: Math.ceil(JSON.stringify(request.messages).length / 4), outputTokens: Math.ceil(text.length / 4) },
      model: `scripted:${model}`,
    };
  }
}
