"""One bronze table per landing sub-folder, discovered with dbutils.fs.ls when the pipeline loads."""

import dlt

FEEDS = "/Volumes/main/conf/landing/feeds"


def bronze_table(feed: str, folder: str) -> None:
    @dlt.table(name=f"raw_{feed}", comment=f"Every file of the {feed} feed, as strings")
    def raw():
        return spark.readStream.format("cloudFiles").option("cloudFiles.format", "json").load(folder)


for entry in dbutils.fs.ls(FEEDS):
    if entry.isDir():
        bronze_table(entry.name.rstrip("/"), entry.path)
