namespace Retro.Api.Apis.Contracts;

/// <summary>The <c>token</c> event of a stream.</summary>
/// <param name="Id">Token id.</param>
/// <param name="Position">Position in the whole sequence (prompt and padding included).</param>
/// <param name="Text">Text this token adds (may be empty; the <c>done</c> event's text is authoritative).</param>
public sealed record TokenEvent(int Id, int Position, string Text);
