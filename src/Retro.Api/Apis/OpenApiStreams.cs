using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Retro.Api.Apis;

/// <summary>Documents the Server-Sent Events alternative of a 200 response (stream = true) beside its JSON body.</summary>
internal static class OpenApiStreams
{
    public static Task AddEventStream(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (operation.Responses?.TryGetValue("200", out var ok) == true && ok.Content is not null)
        {
            ok.Content["text/event-stream"] = new OpenApiMediaType
            {
                Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.String,
                    Description = "With stream = true: events 'retrieval' (ChunkNeighbours), 'token' (TokenEvent), then 'done' (the JSON body) or 'error' (ProblemDetails).",
                },
            };
        }
        return Task.CompletedTask;
    }
}
