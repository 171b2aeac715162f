"""Search indexes derived from the database: FAISS vectors and BM25 postings, persisted per collection."""
