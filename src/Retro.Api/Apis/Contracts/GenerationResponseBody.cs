using System.ComponentModel.DataAnnotations;

namespace Retro.Api.Apis.Contracts;

/// <summary>
/// What the results of <c>POST /v1/answer</c> (<see cref="AnswerResponse"/>) and <c>POST /v1/generate</c>
/// (<see cref="GenerateResponse"/>) share (also the <c>done</c> event of a stream): everything but the generated text.
/// </summary>
public abstract record GenerationResponseBody
{
    /// <summary><c>length</c>, <c>stop</c> or <c>eos</c>.</summary>
    [Required]
    public string FinishReason { get; init; } = "";

    /// <summary><c>retrieval</c> or <c>closed-book</c>.</summary>
    [Required]
    public string Mode { get; init; } = "";

    /// <summary>Neighbours used for each completed chunk, in chunk order.</summary>
    [Required]
    public IReadOnlyList<ChunkNeighbours> Chunks { get; init; } = [];

    /// <summary>Token counts.</summary>
    [Required]
    public TokenUsage Usage { get; init; } = null!;

    /// <summary>Where the time went.</summary>
    [Required]
    public Timings Timings { get; init; } = null!;

    /// <summary>Model identities.</summary>
    [Required]
    public ModelIds Models { get; init; } = null!;
}
