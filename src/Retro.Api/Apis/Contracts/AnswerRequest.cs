namespace Retro.Api.Apis.Contracts;

/// <summary>Body of <c>POST /v1/answer</c>. Unset fields take the configured defaults.</summary>
/// <remarks>The fields besides the question are those of every generation request (<see cref="GenerationRequestBody"/>).</remarks>
/// <param name="Question">The question (1..MaxQuestionChars characters).</param>
public sealed record AnswerRequest(string? Question) : GenerationRequestBody;
