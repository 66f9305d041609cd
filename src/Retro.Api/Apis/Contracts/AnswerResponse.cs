namespace Retro.Api.Apis.Contracts;

/// <summary>Result of <c>POST /v1/answer</c> (also the <c>done</c> event of a streamed answer).</summary>
/// <remarks>The fields after the answer are those of every generation response (<see cref="GenerationResponseBody"/>).</remarks>
/// <param name="Answer">The generated answer.</param>
public sealed record AnswerResponse(string Answer) : GenerationResponseBody;
