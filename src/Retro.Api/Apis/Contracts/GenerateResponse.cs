namespace Retro.Api.Apis.Contracts;

/// <summary>Result of <c>POST /v1/generate</c> (also the <c>done</c> event of a streamed generation).</summary>
/// <param name="Text">The generated continuation (without the prompt).</param>
/// <param name="FinishReason"><c>length</c>, <c>stop</c> or <c>eos</c>.</param>
/// <param name="Mode"><c>retrieval</c> or <c>closed-book</c>.</param>
/// <param name="Chunks">Neighbours used for each completed chunk, in chunk order.</param>
/// <param name="Usage">Token counts.</param>
/// <param name="Timings">Where the time went.</param>
/// <param name="Models">Model identities.</param>
public sealed record GenerateResponse(
    string Text,
    string FinishReason,
    string Mode,
    IReadOnlyList<ChunkNeighbours> Chunks,
    TokenUsage Usage,
    Timings Timings,
    ModelIds Models);
