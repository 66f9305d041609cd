namespace Retro.Api.Apis.Contracts;

/// <summary>Result of <c>POST /v1/generate</c> (also the <c>done</c> event of a streamed generation).</summary>
/// <remarks>The fields after the text are those of every generation response (<see cref="GenerationResponseBody"/>).</remarks>
/// <param name="Text">The generated continuation (without the prompt).</param>
public sealed record GenerateResponse(string Text) : GenerationResponseBody;
