using System.Net.ServerSentEvents;
using System.Text.Json;

namespace Retro.Api.Tests;

internal static class Sse
{
    public static async Task<List<(string Event, JsonElement Data)>> ReadAllAsync(HttpResponseMessage response, CancellationToken ct = default)
    {
        var items = new List<(string, JsonElement)>();
        await foreach (var item in ReadAsync(response, ct)) items.Add(item);
        return items;
    }

    public static async IAsyncEnumerable<(string Event, JsonElement Data)> ReadAsync(HttpResponseMessage response, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        var stream = await response.Content.ReadAsStreamAsync(ct);
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(ct))
            yield return (item.EventType, JsonDocument.Parse(item.Data).RootElement.Clone());
    }
}
