namespace Retro.Api.Apis.Contracts;

/// <summary>Body of <c>POST /v1/generate</c>: continue a prompt. Unset fields take the configured defaults.</summary>
/// <remarks>The fields besides the prompt and the stop texts are those of every generation request (<see cref="GenerationRequestBody"/>).</remarks>
/// <param name="Prompt">Text to continue (1..MaxPromptChars characters).</param>
/// <param name="Stop">Stop texts (at most 4, each 1..64 characters); the stop text is not returned.</param>
public sealed record GenerateRequest(string? Prompt, IReadOnlyList<string>? Stop = null) : GenerationRequestBody;
