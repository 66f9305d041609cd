using System.Net;

namespace Retro.VectorStore.Qdrant;

/// <summary>
/// Qdrant answered a request with an error status. <see cref="Error"/> is Qdrant's own text (<c>status.error</c> of a
/// JSON body, or the plain-text body of e.g. 401/403).
/// </summary>
public sealed class QdrantException : Exception
{
    /// <summary>An error answer <paramref name="statusCode"/> to <paramref name="operation"/> with Qdrant's text <paramref name="error"/>.</summary>
    public QdrantException(HttpStatusCode statusCode, string operation, string error)
        : base($"Qdrant {operation} failed with {(int)statusCode} {statusCode}: {error}")
    {
        StatusCode = statusCode;
        Operation = operation;
        Error = error;
    }

    /// <summary>HTTP status of the answer.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>Method and path of the request, e.g. <c>PUT /collections/retro/points</c> (never headers).</summary>
    public string Operation { get; }

    /// <summary>Qdrant's error text (empty when the body was empty).</summary>
    public string Error { get; }
}
